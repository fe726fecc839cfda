package bench

import (
	"fmt"
	"io"
	"strconv"

	"github.com/mcas-sentinel/mcas-sentinel/internal/bench/baseline"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
)

// WritePages writes acts, in order, as the Activities API's list answers of
// pageSize activities each: {"total":..,"hasNext":..,"data":[records]},
// every record rendered by Activity.Record exactly as the simulated tenant
// serves it, each page framed for baseline.Run (see baseline.WriteFrame). total
// is the exact remaining count where the tenant's is approximate; nothing
// reads it.
func WritePages(w io.Writer, acts []mcasapi.Activity, pageSize int) error {
	if pageSize < 1 {
		return fmt.Errorf("page size %d: want at least 1", pageSize)
	}
	var page []byte
	for lo := 0; lo < len(acts); lo += pageSize {
		hi := min(lo+pageSize, len(acts))
		page = append(page[:0], `{"total":`...)
		page = strconv.AppendInt(page, int64(len(acts)-lo), 10)
		page = append(page, `,"hasNext":`...)
		page = strconv.AppendBool(page, hi < len(acts))
		page = append(page, `,"data":[`...)
		for i := lo; i < hi; i++ {
			if i > lo {
				page = append(page, ',')
			}
			page = append(page, acts[i].Record()...)
		}
		page = append(page, "]}"...)
		if err := baseline.WriteFrame(w, page); err != nil {
			return fmt.Errorf("write page %d: %w", lo/pageSize, err)
		}
	}
	return nil
}
