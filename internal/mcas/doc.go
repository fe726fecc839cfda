// Package mcas is a client for the Microsoft Defender for Cloud Apps
// Activities API (POST <base>/api/v1/activities/), written for an incremental
// reader: every call is paced by the caller's Pacer (the tenant allows 30 calls
// a minute, shared by every client), a throttled call waits and goes on within
// the caller's deadline, transient failures are retried a bounded number of
// times, a rejected token is re-read once from its source, and every response
// body read is bounded. The token never appears in an error.
package mcas
