package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/ingestion/azlogs"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/mcas-sentinel/mcas-sentinel/internal/apitoken"
	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/config"
	"github.com/mcas-sentinel/mcas-sentinel/internal/funchost"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/pipeline"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// app is the wired connector. Building it makes no network call, so the
// handler answers the host's readiness probe at once.
type app struct {
	runner *pipeline.Runner
	health *pipeline.HealthReporter
	tokens *apitoken.Source
	// stopping closes when the worker begins shutting down (SIGTERM).
	stopping <-chan struct{}
}

func wire(cfg *config.Config, logger *slog.Logger) (*app, error) {
	// Managed identity in Azure (AZURE_CLIENT_ID selects a user-assigned one),
	// a developer sign-in locally.
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("azure credential: %w", err)
	}
	kv, err := azsecrets.NewClient(cfg.KeyVaultURL, cred, apitoken.ClientOptions(cfg.KeyVaultURL))
	if err != nil {
		return nil, fmt.Errorf("key vault client: %w", err)
	}
	tokens := apitoken.New(kv, cfg.TokenSecretName)

	logs, err := azlogs.NewClient(cfg.IngestionEndpoint, cred, sentinel.ClientOptions())
	if err != nil {
		return nil, fmt.Errorf("logs ingestion client: %w", err)
	}
	uploader := sentinel.NewUploader(logs, cfg.RuleID)

	store, err := checkpointStore(cfg, cred)
	if err != nil {
		return nil, err
	}
	rows, err := sentinel.NewActivityRowBuilder(schema.Activity())
	if err != nil {
		return nil, err
	}
	healthRows, err := sentinel.NewHealthRowBuilder(schema.Health())
	if err != nil {
		return nil, err
	}

	apiHTTP := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	runner := pipeline.New(pipeline.Settings{
		InitialLookback:   cfg.InitialLookback,
		SettleDelay:       cfg.SettleDelay,
		RunBudget:         cfg.RunBudget,
		RequestsPerMinute: cfg.RequestsPerMinute,
		Stream:            cfg.Stream,
		Filters:           cfg.Filters,
		ScanMode:          cfg.ScanMode,
	}, pipeline.Deps{
		Source: func(p mcas.Pacer) pipeline.ActivitySource {
			c, err := mcas.NewClient(cfg.ActivitiesURL(), tokens, p, mcas.Options{HTTPClient: apiHTTP})
			if err != nil {
				panic(err) // ActivitiesURL always ends in /activities/
			}
			return c
		},
		Rows:     rows,
		Uploader: uploader,
		Store:    store,
		Limiter:  pipeline.NewLimiter(cfg.RequestsPerMinute),
	})
	return &app{
		runner: runner,
		tokens: tokens,
		health: &pipeline.HealthReporter{Rows: healthRows, Uploader: uploader, Stream: cfg.HealthStream, APIHost: cfg.APIHost(), Version: version()},
	}, nil
}

func checkpointStore(cfg *config.Config, cred *azidentity.DefaultAzureCredential) (*checkpoint.Store, error) {
	cp := cfg.Checkpoint
	if cp.UsesConnectionString() {
		c, e := checkpoint.NewClientFromConnectionString(cp.ConnectionString.Reveal(), cp.Table, nil)
		if e != nil {
			return nil, fmt.Errorf("checkpoint table client (%s): %w", cp.Setting, e)
		}
		return checkpoint.NewStore(c, cfg.CheckpointKey())
	}
	c, err := checkpoint.NewClientFromServiceURL(cp.ServiceURL, cp.Table, cred, nil)
	if err != nil {
		return nil, fmt.Errorf("checkpoint table client (%s): %w", cp.Setting, err)
	}
	return checkpoint.NewStore(c, cfg.CheckpointKey())
}

// invoke is one timer invocation.
func (a *app) invoke(ctx context.Context, inv funchost.Invocation) (funchost.Result, error) {
	if inv.Timer.IsPastDue {
		inv.Logger.Info("timer is past due: the run reads from the checkpoint, whatever the schedule missed")
	}
	// A worker shutting down winds the run down instead of running on to its
	// budget, past any stop grace: it reads nothing more, finishes the upload
	// in flight, saves and answers. Uploads and saves do not see this.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-a.stopping:
			inv.Logger.Info("the worker is shutting down: stopping the run after the upload in flight")
			cancel()
		case <-runCtx.Done():
		}
	}()
	res, err := a.runner.Run(runCtx, inv.Logger)
	summary := a.tokens.Redact(res.Summary())
	if herr := a.health.Report(context.WithoutCancel(ctx), inv.ID, res, err, a.tokens.Redact); herr != nil {
		inv.Logger.Error("the health row was not written", "error", a.tokens.Redact(herr.Error()))
	}
	// Logged whatever the outcome: the host drops the Logs of a failed
	// invocation, and what a failed run forwarded before failing belongs in
	// the log as much as the error does (its health row may have failed too).
	inv.Logger.Info(summary, "forwarded", res.Forwarded, "more_to_do", res.MoreToDo)
	if err != nil {
		// The boundary: nothing past here may carry the token.
		return funchost.Result{Logs: []string{summary}}, &redactedError{class: pipeline.ClassOf(err), msg: a.tokens.Redact(err.Error())}
	}
	return funchost.Result{Logs: []string{summary}}, nil
}

type redactedError struct{ class, msg string }

func (e *redactedError) Error() string { return e.class + ": " + e.msg }

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}
