// Package mcasapi simulates a Microsoft Defender for Cloud Apps tenant's
// Activities API (reference/mcas-activities-api.md) for the project's tests
// and for `make run`.
//
// A Sim is an http.Handler (serve it with httptest.NewTLSServer) that speaks
// the real wire format and reproduces the API's traps, because the
// connector's correctness is tested against it:
//
//   - /api/v1/activities without the trailing slash ignores the body and
//     returns the default page;
//   - the default order is date descending, so a client that omits sortField
//     or sortDirection gets the wrong one;
//   - a limit above 100 is cut to 100 without a word;
//   - activities sharing one millisecond come in a stable order that is not
//     by _id;
//   - total is approximate (±10%);
//   - an activity appears only once the sim's clock reaches its VisibleAt;
//   - undocumented filters and operators (date.gt) are rejected with 400;
//   - scan mode (isScan) pages 500–5000 by date descending and continues
//     through nextQueryFilters;
//   - a sliding-window rate limit answers 429, with or without Retry-After;
//   - a fault.Plan injects error pages, truncated bodies and dropped
//     connections.
//
// Every request is recorded (Calls) for assertions. Activities are compact
// structs rendered to JSON when served, so a sim can hold a million; a
// Generator makes realistic ones, reproducibly for a seed.
package mcasapi
