// Package sentinel turns Defender for Cloud Apps activities and invocation
// health records into rows of the custom tables declared in package schema,
// packs the rows into Logs Ingestion API batches and uploads them gzipped.
//
// The column schemas are the single source of truth: a row builder is compiled
// from a schema.Table and refuses any column whose source it cannot fill, so
// the schema files and this code cannot drift apart.
package sentinel
