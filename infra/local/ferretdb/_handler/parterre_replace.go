// This file is added to FerretDB's internal/handler package when the local stack builds FerretDB
// (infra/local/ferretdb_source.py); Go ignores this directory otherwise, its name starting with "_".

package handler

import (
	"context"
	"errors"

	"github.com/FerretDB/FerretDB/internal/backends"
	"github.com/FerretDB/FerretDB/internal/handler/common"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/iterator"
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
	id, ok := parterreUpdatedID(u)
	if !ok || u.HasUpdateOperators {
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

// parterreUpdateAll applies an update command whose two or more updates each change the document of a distinct string
// or ObjectID _id (operators or a replacement, not multi): it reads their documents with one query, applies each
// update as FerretDB's own path does (common.UpdateDocument, so the same results, errors and counts), and writes the
// documents changed in one transaction. done is false when the command is not of that shape, when a document is
// missing (an upsert to insert, or nothing to update), or when an update fails: nothing is written then, and
// FerretDB's own path applies the command, one update after another, as it would have.
//
// FerretDB's own path queries each document on its own, and writes each in a transaction of its own.
func (h *Handler) parterreUpdateAll(ctx context.Context, c backends.Collection, updates []common.Update) (int32, int32, bool, error) {
	if len(updates) < 2 {
		return 0, 0, false, nil
	}

	ids := make([]any, 0, len(updates))
	seen := make(map[any]struct{}, len(updates))

	for i := range updates {
		id, ok := parterreUpdatedID(&updates[i])
		if !ok {
			return 0, 0, false, nil
		}

		if _, twice := seen[id]; twice {
			return 0, 0, false, nil
		}

		seen[id] = struct{}{}
		ids = append(ids, id)
	}

	in := must.NotFail(types.NewDocument("$in", must.NotFail(types.NewArray(ids...))))
	res, err := c.Query(ctx, &backends.QueryParams{Filter: must.NotFail(types.NewDocument("_id", in))})
	if err != nil {
		return 0, 0, false, lazyerrors.Error(err)
	}

	found := make(map[any]*types.Document, len(ids))

	for {
		_, doc, err := res.Iter.Next()
		if errors.Is(err, iterator.ErrIteratorDone) {
			break
		}

		if err != nil {
			res.Iter.Close()
			return 0, 0, false, lazyerrors.Error(err)
		}

		id, _ := doc.Get("_id")
		if _, wanted := seen[id]; wanted {
			found[id] = doc
		}
	}

	res.Iter.Close()

	if len(found) != len(ids) {
		return 0, 0, false, nil
	}

	held := &parterreHeldWrites{Collection: c}

	var matched, modified int32

	for i := range updates {
		one := iterator.Values(iterator.ForSlice([]*types.Document{found[ids[i]]}))

		result, err := common.UpdateDocument(ctx, held, "update", one, &updates[i])
		if err != nil {
			return 0, 0, false, nil
		}

		matched += result.Matched.Count
		modified += result.Modified.Count
	}

	if len(held.docs) > 0 {
		if _, err := c.UpdateAll(ctx, &backends.UpdateAllParams{Docs: held.docs}); err != nil {
			return 0, 0, false, lazyerrors.Error(err)
		}
	}

	return matched, modified, true, nil
}

// parterreUpdatedID is the _id of the one document an update changes, when its filter is that _id alone, a string
// or an ObjectID, and it is not multi.
func parterreUpdatedID(u *common.Update) (any, bool) {
	if u.Multi || u.Update == nil || u.Filter == nil || u.Filter.Len() != 1 {
		return nil, false
	}

	id, err := u.Filter.Get("_id")
	if err != nil {
		return nil, false
	}

	switch id.(type) {
	case string, types.ObjectID:
		return id, true
	default:
		return nil, false
	}
}

// parterreHeldWrites is a collection whose UpdateAll keeps the documents to write instead, so that the updates of a
// command are written together; it inserts nothing (an upsert is left to FerretDB's own path).
type parterreHeldWrites struct {
	backends.Collection
	docs []*types.Document
}

// UpdateAll implements backends.Collection interface.
func (w *parterreHeldWrites) UpdateAll(_ context.Context, params *backends.UpdateAllParams) (*backends.UpdateAllResult, error) {
	w.docs = append(w.docs, params.Docs...)
	return &backends.UpdateAllResult{Updated: int32(len(params.Docs))}, nil
}

// InsertAll implements backends.Collection interface.
func (w *parterreHeldWrites) InsertAll(context.Context, *backends.InsertAllParams) (*backends.InsertAllResult, error) {
	return nil, errors.New("an upsert is left to FerretDB's own path")
}
