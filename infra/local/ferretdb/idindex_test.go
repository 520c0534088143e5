package main

import (
	"reflect"
	"testing"
	"time"
)

func TestRebuildStatements(t *testing.T) {
	const table = "persons_0aceb489"
	// As sqlite_master keeps them (FerretDB's, copied from a store it wrote).
	ferret := `CREATE UNIQUE INDEX "persons_0aceb489__id_" ON "persons_0aceb489" (_ferretdb_sjson->"_id")`
	rebuilt := `CREATE UNIQUE INDEX "persons_0aceb489__id_" ON "persons_0aceb489" (_ferretdb_sjson->'$._id')`
	lookup := `CREATE INDEX "persons_0aceb489_id_lookup" ON "persons_0aceb489" (_ferretdb_sjson->'$._id')`
	renamed := `CREATE UNIQUE INDEX "persons_0aceb489_id_unique" ON "persons_0aceb489" (_ferretdb_sjson->'$._id')`
	ownLookup := `CREATE INDEX "persons_0aceb489_id_lookup" ON "persons_0aceb489" (_ferretdb_sjson->"code")`
	dropID := `DROP INDEX "persons_0aceb489__id_"`
	for _, tc := range []struct {
		name    string
		indexes map[string]string
		want    []string
	}{
		{"as FerretDB makes it", map[string]string{table + "__id_": ferret}, []string{dropID, rebuilt}},
		{
			"with the first builds' look-up index",
			map[string]string{table + "__id_": ferret, table + "_id_lookup": lookup},
			[]string{dropID, rebuilt, `DROP INDEX "persons_0aceb489_id_lookup"`},
		},
		{
			"in place under a name of its own",
			map[string]string{table + "_id_unique": renamed},
			[]string{rebuilt, `DROP INDEX "persons_0aceb489_id_unique"`},
		},
		{
			"rebuilt beside that one",
			map[string]string{table + "__id_": rebuilt, table + "_id_unique": renamed},
			[]string{`DROP INDEX "persons_0aceb489_id_unique"`},
		},
		{"rebuilt", map[string]string{table + "__id_": rebuilt}, nil},
		{"rebuilt, beside the collection's own index named id_lookup", map[string]string{table + "__id_": rebuilt, table + "_id_lookup": ownLookup}, nil},
		{"a table FerretDB has not indexed yet", map[string]string{}, nil},
		{"another table's indexes", map[string]string{"other__id_": ferret}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rebuildStatements(table, tc.indexes); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rebuildStatements() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSweptForGood(t *testing.T) {
	changed := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	cases := []struct {
		now  time.Time
		want bool
	}{
		{changed, false},
		{changed.Add(999 * time.Millisecond), false},
		{changed.Add(time.Second), true},
		{changed.Add(time.Minute), true},
		// A clock set back since the write: the file is swept again until it is quiet by the clock.
		{changed.Add(-time.Second), false},
	}
	for _, c := range cases {
		if got := sweptForGood(changed, c.now); got != c.want {
			t.Errorf("sweptForGood(%v, %v) = %v, want %v", changed, c.now, got, c.want)
		}
	}
}
