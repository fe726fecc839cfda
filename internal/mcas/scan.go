package mcas

import (
	"context"
	"encoding/json"
	"fmt"
)

// Scan-mode page sizes the API documents (api-activities-investigate-script).
const (
	MinScanLimit = 500
	MaxScanLimit = 5000
)

// ScanPage is one answer in scan mode.
type ScanPage struct {
	Data    []json.RawMessage
	HasNext bool
	// NextQueryFilters is the filters object of the next request, to send
	// back verbatim; absent when HasNext is false.
	NextQueryFilters json.RawMessage
	// Compact: see Page.Compact.
	Compact bool

	body // Release: see Page
}

// ScanFilters returns the filters of a scan window's first request: created
// within [from, to] (ms, inclusive) plus the extra filters.
func ScanFilters(from, to int64, extra map[string]json.RawMessage) (json.RawMessage, error) {
	filters := make(map[string]json.RawMessage, len(extra)+1)
	for k, v := range extra {
		filters[k] = v
	}
	created, err := json.Marshal(map[string]int64{"gte": from, "lte": to})
	if err != nil {
		return nil, err
	}
	filters["created"] = created
	return json.Marshal(filters)
}

// Scan sends one scan-mode request: the API walks the filtered set by date,
// descending, limit rows at a time, and answers with the filters of the next
// request. The last few rows of a page that share its boundary date are
// held back for the next page, so every row is listed once.
func (c *Client) Scan(ctx context.Context, filters json.RawMessage, limit int) (ScanPage, error) {
	limit = min(max(limit, MinScanLimit), MaxScanLimit)
	// The sort is the scan's own (date, descending, its documented
	// default), sent anyway: the API's defaults are not to be relied on.
	body, err := json.Marshal(struct {
		Filters       json.RawMessage `json:"filters"`
		IsScan        bool            `json:"isScan"`
		Limit         int             `json:"limit"`
		SortField     string          `json:"sortField"`
		SortDirection string          `json:"sortDirection"`
	}{filters, true, limit, "date", "desc"})
	if err != nil {
		return ScanPage{}, fmt.Errorf("build scan query: %w", err)
	}
	raw, token, err := c.do(ctx, body)
	if err != nil {
		return ScanPage{}, err
	}
	page, err := c.ownedPage(raw, token)
	if err != nil {
		return ScanPage{}, err
	}
	// A page taken for the last ends the scan's window: only an answer
	// that says so may. (List mode reads on from its cursor either way.)
	if !page.hasNextSet {
		err := &BadResponseError{Reason: `the scan answer has no boolean "hasNext": whether the scan goes on cannot be told`, Snippet: redactedSnippet(page.buf, token)}
		page.Release()
		return ScanPage{}, err
	}
	if page.HasNext && (len(page.NextQueryFilters) == 0 || page.NextQueryFilters[0] != '{') {
		err := &BadResponseError{Reason: "hasNext is true but nextQueryFilters is not an object", Snippet: redactedSnippet(page.NextQueryFilters, token)}
		page.Release() // NextQueryFilters is a slice of the page's buffer
		return ScanPage{}, err
	}
	return ScanPage{Data: page.Data, HasNext: page.HasNext, NextQueryFilters: page.NextQueryFilters, Compact: page.Compact, body: page.body}, nil
}
