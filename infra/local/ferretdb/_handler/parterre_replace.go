// This file is added to FerretDB's internal/handler package when the local stack builds FerretDB
// (infra/local/ferretdb_source.py); Go ignores this directory otherwise, its name starting with "_".

package handler

import (
	"context"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// parterreReplaceAll writes the documents of an update command that replaces documents by _id, all in one
// transaction and without reading them first, when each of its two or more updates replaces the document of one
// string or ObjectID _id (no operator, not multi) and keeps that _id. It returns how many it replaced, and done true
// when every one was there. done is false when the command is not of that shape, or when a document was missing (an
// upsert to insert, or nothing to update): FerretDB's own path then applies the whole command, a replacement applied
// twice leaving what it left once.
//
// FerretDB's own path reads each document back, compares it with its replacement, and writes it in a transaction of
// its own. A command of one update (what replace_one sends) keeps that path and its counts.
func (h *Handler) parterreReplaceAll(ctx context.Context, c backends.Collection, updates []common.Update) (int32, bool, error) {
	if len(updates) < 2 {
		return 0, false, nil
	}

	docs := make([]*types.Document, 0, len(updates))

	for i := range updates {
		doc, ok := parterreReplacement(&updates[i])
		if !ok {
			return 0, false, nil
		}

		docs = append(docs, doc)
	}

	res, err := c.UpdateAll(ctx, &backends.UpdateAllParams{Docs: docs})
	if err != nil {
		return 0, false, lazyerrors.Error(err)
	}

	return res.Updated, int(res.Updated) == len(docs), nil
}

// parterreReplacement is the document an update leaves, when the update replaces the document of a string or
// ObjectID _id and keeps that _id: _id first, then the replacement's fields in their order, as FerretDB's own path
// writes it. ok is false otherwise, and for a replacement that is not a valid document, whose error FerretDB's own
// path gives.
func parterreReplacement(u *common.Update) (*types.Document, bool) {
	if u.Multi || u.HasUpdateOperators || u.Update == nil || u.Filter == nil || u.Filter.Len() != 1 {
		return nil, false
	}

	id, err := u.Filter.Get("_id")
	if err != nil {
		return nil, false
	}

	switch id.(type) {
	case string, types.ObjectID:
	default:
		return nil, false
	}

	if kept, err := u.Update.Get("_id"); err == nil && types.Compare(id, kept) != types.Equal {
		return nil, false
	}

	doc := must.NotFail(types.NewDocument("_id", id))

	for _, key := range u.Update.Keys() {
		if key != "_id" {
			doc.Set(key, must.NotFail(u.Update.Get(key)))
		}
	}

	if doc.ValidateData() != nil {
		return nil, false
	}

	return doc, true
}
