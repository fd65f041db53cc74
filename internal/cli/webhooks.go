package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// webhookEvents are the event types `webhooks register` subscribes to by
// default: everything email_events and its reports use.
var webhookEvents = []string{"EMAIL_SENT", "EMAIL_OPEN", "EMAIL_LINK_CLICK", "EMAIL_REPLY", "EMAIL_BOUNCE",
	"LEAD_UNSUBSCRIBED", "LEAD_CATEGORY_UPDATED"}

// knownWebhookEvents are every documented type (the normalised spelling).
var knownWebhookEvents = append(slices.Clone(webhookEvents), "FIRST_EMAIL_SENT", "CAMPAIGN_STATUS_CHANGED",
	"UNTRACKED_REPLIES", "MANUAL_STEP_REACHED", "EMAIL_ACCOUNT_DISCONNECTED")

const webhooksUsage = `Usage:
  smartlead-etl webhooks register --url URL [--events A,B] [--campaign ID | --client ID] [--name NAME]
  smartlead-etl webhooks list [--campaign ID]
  smartlead-etl webhooks delete ID

Each call is an API request: it goes through the same rate limiter as run and is
recorded in api_requests. Registration is user-level (every campaign) unless
--campaign or --client is given.`

func cmdWebhooks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErrorf("webhooks: say register, list or delete (smartlead-etl help webhooks)")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, webhooksUsage) // help goes to stdout, like every command's
		return errHelp
	}
	sub, rest := args[0], args[1:]
	var cfg runConfig
	fs := newFlagSet("webhooks "+sub+" [flags]", webhooksUsage)
	cfg.register(fs)
	hideRunOnlyFlags(fs)
	var (
		hookURL          string
		events           []string
		name             string
		campaign, client int64
	)
	switch sub {
	case "register":
		fs.StringVar(&hookURL, "url", "", "the receiver's public URL, e.g. https://hooks.example.com/webhooks/smartlead")
		fs.StringSliceVar(&events, "events", webhookEvents, "event types to subscribe to")
		fs.StringVar(&name, "name", "smartlead-etl", "the webhook's name in SmartLead")
		fs.Int64Var(&campaign, "campaign", 0, "register for this campaign only")
		fs.Int64Var(&client, "client", 0, "register for this client's campaigns only")
	case "list":
		fs.Int64Var(&campaign, "campaign", 0, "also list this campaign's webhooks as the API reports them")
	case "delete":
	default:
		fmt.Fprintln(stderr, webhooksUsage)
		return usageErrorf("webhooks: unknown subcommand %q (register, list or delete)", sub)
	}
	if err := parseFlags(fs, rest, stdout); err != nil {
		return err
	}
	if err := cfg.resolve(fs, true); err != nil {
		return err
	}
	log, err := newLogger(cfg.common, stderr)
	if err != nil {
		return err
	}
	switch sub {
	case "register":
		if fs.NArg() > 0 {
			return usageErrorf("webhooks register: unexpected argument %q", fs.Arg(0))
		}
		spec, err := webhookSpec(hookURL, events, name, campaign, client)
		if err != nil {
			return err
		}
		return registerWebhook(ctx, cfg, log, spec, stdout)
	case "list":
		if fs.NArg() > 0 {
			return usageErrorf("webhooks list: unexpected argument %q", fs.Arg(0))
		}
		return listWebhooks(ctx, cfg, log, campaign, stdout)
	}
	if fs.NArg() != 1 {
		return usageErrorf("webhooks delete takes one webhook id")
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return usageErrorf("webhooks delete %q: the id must be a positive integer", fs.Arg(0))
	}
	return deleteWebhook(ctx, cfg, log, id, stdout)
}

// hideRunOnlyFlags keeps --help of the webhooks commands to the flags
// that matter for a single API call.
func hideRunOnlyFlags(fs *pflag.FlagSet) {
	for _, f := range []string{"concurrency", "streams", "days", "retain", "export", "progress", "full-refresh",
		"max-requests", "deadline", "backfill-days", "resume-within", "dry-run"} {
		_ = fs.MarkHidden(f)
	}
}

// webhookSpec checks the register flags.
func webhookSpec(rawURL string, events []string, name string, campaign, client int64) (extract.WebhookSpec, error) {
	var spec extract.WebhookSpec
	if rawURL == "" {
		return spec, usageErrorf("webhooks register: --url is required")
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return spec, usageErrorf("--url %q: want an absolute https URL", rawURL)
	}
	if u.Scheme != "https" && !loopbackHost(u.Hostname()) {
		return spec, usageErrorf("--url %q: SmartLead would send events over the Internet in clear; use https (plain http only to a loopback address)", rawURL)
	}
	if campaign < 0 || client < 0 || (campaign != 0 && client != 0) {
		return spec, usageErrorf("webhooks register: give at most one of --campaign and --client, as a positive id")
	}
	var types []string
	for _, e := range events {
		n := transform.NormalizeEventType(e)
		if !slices.Contains(knownWebhookEvents, n) {
			return spec, usageErrorf("--events: unknown event type %q (known: %s)", e, strings.Join(knownWebhookEvents, ","))
		}
		if !slices.Contains(types, n) {
			types = append(types, n)
		}
	}
	if len(types) == 0 {
		return spec, usageErrorf("--events: give at least one event type")
	}
	return extract.WebhookSpec{Name: name, URL: rawURL, EventTypes: types, CampaignID: campaign, ClientID: client}, nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// apiSession is an API session for one command (see pipeline.Session).
// The warehouse is held only to read the quota memory and to write the
// ledger, never while a request waits.
type apiSession struct {
	*pipeline.Session
	cfg runConfig
	log *slog.Logger
}

func newAPISession(ctx context.Context, cfg runConfig, log *slog.Logger) (*apiSession, error) {
	a := &apiSession{cfg: cfg, log: log}
	err := withStore(ctx, cfg, log, func(s *load.Store) error {
		var err error
		a.Session, err = pipeline.NewSession(ctx, cfg.pipelineConfig(log, nil),
			pipeline.SessionOptions{Store: s, Recover: true, Label: "webhooks", Logger: log})
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// finish writes the attempts to the ledger and runs fn on the warehouse.
func (a *apiSession) finish(ctx context.Context, fn func(*load.Store) error) error {
	defer a.Close()
	return withStore(context.WithoutCancel(ctx), a.cfg, a.log, func(s *load.Store) error {
		if err := a.Flush(ctx, s); err != nil {
			return err
		}
		if fn != nil {
			return fn(s)
		}
		return nil
	})
}

func withStore(ctx context.Context, cfg runConfig, log *slog.Logger, fn func(*load.Store) error) error {
	s, err := load.Open(ctx, cfg.db, schemaFS(), load.Options{LockWait: cfg.lockWait, Logger: log})
	if err != nil {
		return err
	}
	err = fn(s)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

func registerWebhook(ctx context.Context, cfg runConfig, log *slog.Logger, spec extract.WebhookSpec, stdout io.Writer) error {
	a, err := newAPISession(ctx, cfg, log)
	if err != nil {
		return err
	}
	id, _, cerr := a.Client.CreateWebhook(ctx, spec)
	err = a.finish(ctx, func(s *load.Store) error {
		if cerr != nil {
			return nil
		}
		return s.RecordWebhook(ctx, load.WebhookRegistration{ID: id, Name: spec.Name, URL: spec.URL,
			Association: spec.Association(), CampaignID: spec.CampaignID, ClientID: spec.ClientID,
			EventTypes: spec.EventTypes, RegisteredAt: time.Now()})
	})
	if cerr != nil {
		return fmt.Errorf("register webhook: %w", cerr)
	}
	if err != nil {
		return err
	}
	log.Info("webhook registered", "webhook_id", id, "association", spec.Association(), "events", strings.Join(spec.EventTypes, ","))
	fmt.Fprintf(stdout, "registered webhook %d (%s-level) for %s\nevents: %s\n", id, spec.Association(), spec.URL, strings.Join(spec.EventTypes, ", "))
	return nil
}

func listWebhooks(ctx context.Context, cfg runConfig, log *slog.Logger, campaign int64, stdout io.Writer) error {
	var known []load.WebhookRegistration
	if err := withStore(ctx, cfg, log, func(s *load.Store) error {
		var err error
		known, err = s.Webhooks(ctx)
		return err
	}); err != nil {
		return err
	}
	a, err := newAPISession(ctx, cfg, log)
	if err != nil {
		return err
	}
	var callErr error
	fmt.Fprintf(stdout, "%-8s %-9s %-10s %-8s %s\n", "id", "scope", "state", "events", "url")
	for _, w := range known {
		state := "active"
		if _, err := a.Client.GetWebhook(ctx, w.ID); errors.Is(err, extract.ErrNotFound) {
			state = "gone"
		} else if err != nil {
			state, callErr = "unknown", err
		}
		scope := w.Association
		if w.CampaignID != 0 {
			scope = "c" + strconv.FormatInt(w.CampaignID, 10)
		} else if w.ClientID != 0 {
			scope = "cl" + strconv.FormatInt(w.ClientID, 10)
		}
		fmt.Fprintf(stdout, "%-8d %-9s %-10s %-8d %s\n", w.ID, scope, state, len(w.EventTypes), w.URL)
	}
	if len(known) == 0 {
		fmt.Fprintln(stdout, "(no webhook registered by this tool; the API cannot list user-level webhooks)")
	}
	if campaign != 0 && callErr == nil {
		hooks, err := a.Client.CampaignWebhooks(ctx, campaign)
		if err != nil {
			callErr = err
		}
		fmt.Fprintf(stdout, "\ncampaign %d, as the API lists it:\n", campaign)
		for _, h := range hooks {
			fmt.Fprintf(stdout, "  %s\n", compactJSON(h))
		}
	}
	if err := a.finish(ctx, nil); err != nil {
		return err
	}
	return callErr
}

func deleteWebhook(ctx context.Context, cfg runConfig, log *slog.Logger, id int64, stdout io.Writer) error {
	a, err := newAPISession(ctx, cfg, log)
	if err != nil {
		return err
	}
	derr := a.Client.DeleteWebhook(ctx, id)
	gone := derr == nil || errors.Is(derr, extract.ErrNotFound)
	var knew bool
	err = a.finish(ctx, func(s *load.Store) error {
		if !gone {
			return nil
		}
		var err error
		knew, err = s.WebhookDeleted(ctx, id, time.Now())
		return err
	})
	switch {
	case derr != nil && !gone:
		return fmt.Errorf("delete webhook %d: %w", id, derr)
	case err != nil:
		return err
	case derr != nil:
		fmt.Fprintf(stdout, "webhook %d does not exist (any more)\n", id)
	default:
		fmt.Fprintf(stdout, "deleted webhook %d\n", id)
	}
	if !knew {
		log.Debug("webhook was not registered by this tool", "webhook_id", id)
	}
	return nil
}

func compactJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}
