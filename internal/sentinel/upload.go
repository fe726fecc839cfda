package sentinel

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/ingestion/azlogs"
)

// UploadTryTimeout bounds one HTTP attempt of an upload. It only guards
// against a connection that hangs: the SPEC forbids giving up on an upload in
// under 30 s, because one the service accepted but the client abandoned would
// be sent again.
const UploadTryTimeout = 60 * time.Second

// ClientOptions returns the options to build the azlogs client with. azcore's
// retry policy stays at its defaults (3 retries on 408, 429, 500, 502, 503 and
// 504, honouring Retry-After); the Uploader adds no retry loop of its own.
// Set Transport and the like on the result before azlogs.NewClient.
func ClientOptions() *azlogs.ClientOptions {
	o := &azlogs.ClientOptions{}
	o.Retry.TryTimeout = UploadTryTimeout
	return o
}

// BestEffortRetry is the retry policy of BestEffort uploads: one retry, a
// try given up after 10 s, a Retry-After over 5 s not waited for. Such an
// upload takes about 25 s at most, where ClientOptions' policy may take
// minutes (four tries of up to UploadTryTimeout, Retry-After honoured up to
// 60 s each time).
var BestEffortRetry = policy.RetryOptions{
	MaxRetries:    1,
	TryTimeout:    10 * time.Second,
	RetryDelay:    time.Second,
	MaxRetryDelay: 5 * time.Second,
}

// BestEffort returns ctx with BestEffortRetry for the uploads made with it.
// It is for rows that may be sent twice or not at all sooner than hold up an
// invocation past its budget: the health rows, never activities (an upload
// given up on after the service accepted it is sent again).
func BestEffort(ctx context.Context) context.Context {
	return policy.WithRetryOptions(ctx, BestEffortRetry)
}

// UploadStats is what the Logs Ingestion API accepted during one Upload.
type UploadStats struct {
	// Rows accepted. They are always the first Rows rows of the batch, in
	// order, even when Upload fails part way.
	Rows int
	// Requests answered 204: one per batch, more when a 413 split it.
	Requests int
}

// Uploader sends batches to one data collection rule. It is safe for
// concurrent use.
type Uploader struct {
	client *azlogs.Client
	ruleID string

	// zw holds about 800 KB of compressor state, kept for the Uploader's
	// life: a sync.Pool would lose it at nearly every GC cycle, and building
	// a fresh one per batch shows in the CPU profile.
	zmu sync.Mutex
	zw  *gzip.Writer
}

// NewUploader returns an Uploader sending through client, which the caller
// builds with its credential and ClientOptions, to the rule with immutable id
// ruleID (dcr-...).
func NewUploader(client *azlogs.Client, ruleID string) *Uploader {
	return &Uploader{client: client, ruleID: ruleID}
}

// Upload sends b, gzipped, to stream. When the service answers 413 the rows
// are split in two halves, each uploaded the same way; a single row that is
// still too large is an error. Upload stops at the first error, which wraps
// the *azcore.ResponseError when the service answered (see Rejected).
//
// Cancelling ctx stops Upload from starting another request, but a request
// already sent is always awaited to its answer, retries included.
func (u *Uploader) Upload(ctx context.Context, stream string, b *Batch) (UploadStats, error) {
	var st UploadStats
	if b.Len() == 0 {
		return st, nil
	}
	// Not "return st, u.upload(...)": Go leaves unspecified whether st is
	// read before or after the call fills it.
	err := u.upload(ctx, stream, b, 0, b.Len(), &st)
	return st, err
}

var gzipEncoding = "gzip"

func (u *Uploader) upload(ctx context.Context, stream string, b *Batch, lo, hi int, st *UploadStats) error {
	rows := b.rows(lo, hi)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("upload %d rows to stream %s: not started: %w", hi-lo, stream, err)
	}
	body, err := u.gzipArray(rows)
	if err != nil {
		return fmt.Errorf("upload %d rows to stream %s: %w", hi-lo, stream, err)
	}
	// Detached from ctx: an accepted upload the client gave up on would be
	// sent again by the next run. UploadTryTimeout bounds each attempt.
	_, err = u.client.Upload(context.WithoutCancel(ctx), u.ruleID, stream, body,
		&azlogs.UploadOptions{ContentEncoding: &gzipEncoding})
	if err == nil {
		st.Rows += hi - lo
		st.Requests++
		return nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusRequestEntityTooLarge && hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if err := u.upload(ctx, stream, b, lo, mid, st); err != nil {
			return err
		}
		return u.upload(ctx, stream, b, mid, hi, st)
	}
	return fmt.Errorf("upload %d rows (%d bytes, %d gzipped) to stream %s: %w", hi-lo, len(rows)+2, len(body), stream, err)
}

// Rejected reports whether err carries an answer in which the Logs Ingestion
// API refused an upload for good (a 4xx other than 408 and 429), as opposed to
// being unavailable (5xx, 408 or 429 after azcore's retries, or no answer).
func Rejected(err error) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	s := re.StatusCode
	return s >= 400 && s < 500 && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests
}

var (
	openBracket  = []byte{'['}
	closeBracket = []byte{']'}
)

// gzipArray compresses "[" rows "]". The output buffer is new each time, not
// pooled: net/http may still be reading a request body after the response
// has arrived.
func (u *Uploader) gzipArray(rows []byte) ([]byte, error) {
	u.zmu.Lock()
	defer u.zmu.Unlock()
	out := bytes.NewBuffer(make([]byte, 0, len(rows)/8+512)) // activity JSON gzips about 10:1
	if u.zw == nil {
		u.zw = gzip.NewWriter(out)
	} else {
		u.zw.Reset(out)
	}
	zw := u.zw
	for _, p := range [][]byte{openBracket, rows, closeBracket} {
		if _, err := zw.Write(p); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return out.Bytes(), nil
}
