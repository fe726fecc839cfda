package bench

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/mcas-sentinel/mcas-sentinel/internal/localstack"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// Delivery compares what reached the Logs Ingestion stand-in with the
// simulated tenant's activities, by ActivityId.
type Delivery struct {
	Expected   int // activities in the tenant
	Rows       int // rows accepted on the activity stream
	Missing    int // activities with no row
	Duplicated int // activities with more than one row
	Unexpected int // rows whose ActivityId is no activity of the tenant
}

// ExactlyOnce reports whether every activity arrived once and nothing else did.
func (d Delivery) ExactlyOnce() bool {
	return d.Missing == 0 && d.Duplicated == 0 && d.Unexpected == 0 && d.Rows == d.Expected
}

func (d Delivery) String() string {
	if d.ExactlyOnce() {
		return fmt.Sprintf("all %d exactly once", d.Expected)
	}
	return fmt.Sprintf("%d rows for %d activities: %d missing, %d duplicated, %d unexpected", d.Rows, d.Expected, d.Missing, d.Duplicated, d.Unexpected)
}

// checkDelivery counts the stack's accepted activity rows by ActivityId
// against every activity its tenant holds.
func checkDelivery(st *localstack.Stack) (Delivery, error) {
	acts := st.Sim.Activities()
	rows := st.Ingestion.Rows(schema.Activity().Stream)
	d := Delivery{Expected: len(acts), Rows: len(rows)}
	got := make(map[string]int, len(rows))
	for i, row := range rows {
		id, err := activityID(row)
		if err != nil {
			return d, fmt.Errorf("row %d: %w", i, err)
		}
		got[id]++
	}
	for i := range acts {
		switch n := got[acts[i].ID]; {
		case n == 0:
			d.Missing++
		case n > 1:
			d.Duplicated++
		}
		delete(got, acts[i].ID)
	}
	d.Unexpected = len(got)
	return d, nil
}

// keepActivityID is what the Logs Ingestion stand-in keeps of each row the
// bench's handlers upload: the ActivityId, all checkDelivery reads. Whole
// rows (~5 KB each) made the bench process hold 7 GB at 1M activities and
// spend its CPU collecting garbage beside the handler it measures.
func keepActivityID(stream string, row json.RawMessage) json.RawMessage {
	if stream != schema.Activity().Stream {
		return row
	}
	id, err := activityID(row)
	if err != nil {
		return row // checkDelivery reports it
	}
	b, err := json.Marshal(struct{ ActivityId string }{id})
	if err != nil {
		return row
	}
	return b
}

var activityIDKey = []byte(`"ActivityId":"`)

// activityID returns a row's ActivityId. Rows are compact JSON objects; the
// fast path finds the key at the top level of the usual layout, where the
// string has no escapes, and anything else is decoded in full.
func activityID(row []byte) (string, error) {
	if i := bytes.Index(row, activityIDKey); i >= 0 && bytes.Count(row[:i], []byte{'{'}) == 1 {
		v := row[i+len(activityIDKey):]
		if j := bytes.IndexByte(v, '"'); j >= 0 && bytes.IndexByte(v[:j], '\\') < 0 {
			return string(v[:j]), nil
		}
	}
	var r struct{ ActivityId *string }
	if err := json.Unmarshal(row, &r); err != nil {
		return "", fmt.Errorf("not a JSON object: %w", err)
	}
	if r.ActivityId == nil {
		return "", fmt.Errorf("no ActivityId")
	}
	return *r.ActivityId, nil
}
