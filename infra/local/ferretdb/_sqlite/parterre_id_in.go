// This file is added to FerretDB's internal/backends/sqlite package when the local stack builds FerretDB
// (infra/local/ferretdb_source.py); Go ignores this directory otherwise, its name starting with "_".

package sqlite

import (
	"fmt"
	"strings"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
)

// parterreMaxIDsIn keeps a statement's parameters well below SQLite's limit (32,766); a longer list is not pushed
// down, and the handler filters the whole collection as FerretDB does without this file.
const parterreMaxIDsIn = 10_000

// parterreIDInWhere is the WHERE clause and its arguments for the value of a filter's only key, _id, when that
// value is {$in: [...]} of strings and ObjectIDs only: the rows whose _id is one of them, found through the _id
// index. Otherwise it is "" and no arguments. FerretDB's handler still applies the whole filter to the rows
// found, so this clause only has to keep every row that matches: the same rows as {_id: value} for each value.
func parterreIDInWhere(v any) (string, []any) {
	operator, ok := v.(*types.Document)
	if !ok || operator.Len() != 1 {
		return "", nil
	}
	in, err := operator.Get("$in")
	if err != nil {
		return "", nil
	}
	values, ok := in.(*types.Array)
	if !ok || values.Len() > parterreMaxIDsIn {
		return "", nil
	}
	if values.Len() == 0 {
		return ` WHERE FALSE`, nil
	}
	args := make([]any, 0, values.Len())
	for i := 0; i < values.Len(); i++ {
		value, _ := values.Get(i)
		switch value.(type) {
		case string, types.ObjectID:
		default:
			return "", nil
		}
		encoded, err := sjson.MarshalSingleValue(value)
		if err != nil {
			return "", nil
		}
		args = append(args, string(encoded))
	}
	placeholders := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	return fmt.Sprintf(` WHERE %s IN (%s)`, metadata.IDColumn, placeholders), args
}

// parterreIDOf is the value of the filter's _id key when _id is one of its top-level keys, once. Every top-level key
// must hold for a document to match, so only rows whose _id is that value (or one of its $in values) can: the
// clause built from it alone keeps every row the whole filter matches. FerretDB 1.24 pushes _id down only for a
// filter that is {_id: value} alone, and reads every row of the collection for {_id: value, person_id: owner}: an
// update or delete of one document on a condition.
func parterreIDOf(filter *types.Document) (any, bool) {
	found := 0
	for _, key := range filter.Keys() {
		if key == "_id" {
			found++
		}
	}
	if found != 1 {
		return nil, false
	}
	v, err := filter.Get("_id")
	return v, err == nil
}
