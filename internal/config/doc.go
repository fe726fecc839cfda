// Package config loads mcas-sentinel's settings (app settings in Azure,
// environment variables locally) once, applies the defaults, and validates
// every setting, reporting all problems together so one failed invocation is
// enough to fix the configuration.
//
// The storage connection string may hold an account key: it is kept in a
// Secret, which redacts itself wherever it is printed, logged or marshalled,
// and no error message ever quotes it.
package config
