package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// webhookEvents are the event types `webhooks register` subscribes to by
// default: everything email_events and its reports use.
var webhookEvents = []string{transform.EventSent, transform.EventOpen, transform.EventLinkClick, transform.EventReply,
	transform.EventBounce, transform.EventUnsubscribed, transform.EventCategoryUpdated}

const webhooksUsage = `Usage:
  smartlead-etl webhooks register --url URL [--events A,B] [--campaign ID | --client ID] [--name NAME]
  smartlead-etl webhooks list [--campaign ID]
  smartlead-etl webhooks delete ID

Each call is an API request: it goes through the same rate limiter as run and is
recorded in api_requests. Registration is user-level (every campaign) unless
--campaign or --client is given.`

func (e *env) cmdWebhooks(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErrorf("webhooks: say register, list or delete (smartlead-etl help webhooks)")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(e.stdout, webhooksUsage) // help goes to stdout, like every command's
		return errHelp
	}
	sub, rest := args[0], args[1:]
	var cfg runConfig
	var (
		hookURL          string
		events           []string
		name             string
		campaign, client int64
	)
	var fs *flagSet
	switch sub {
	case "register":
		fs = newFlags("webhooks register", "--url URL [flags]", "Register a webhook with SmartLead, user-level (every campaign) unless --campaign or --client is given. The call goes through the same rate limiter as run and is recorded in api_requests.", envPrefix)
		fs.StringVar(&hookURL, "url", "", "the receiver's public URL, e.g. https://hooks.example.com/webhooks/smartlead")
		fs.StringSliceVar(&events, "events", webhookEvents, "event types to subscribe to")
		fs.StringVar(&name, "name", "smartlead-etl", "the webhook's name in SmartLead")
		fs.Int64Var(&campaign, "campaign", 0, "register for this campaign only")
		fs.Int64Var(&client, "client", 0, "register for this client's campaigns only")
	case "list":
		fs = newFlags("webhooks list", "[flags]", "List the webhooks this tool registered and whether SmartLead still has them. Each check is an API request, recorded in api_requests.", envPrefix)
		fs.Int64Var(&campaign, "campaign", 0, "also list this campaign's webhooks as the API reports them")
	case "delete":
		fs = newFlags("webhooks delete", "ID [flags]", "Delete a webhook from SmartLead (an API request, recorded in api_requests).", envPrefix)
	default:
		fmt.Fprintln(e.stderr, webhooksUsage)
		return usageErrorf("webhooks: unknown subcommand %q (register, list or delete)", sub)
	}
	cfg.dbFlags.register(fs)
	cfg.logFlags.register(fs)
	cfg.apiFlags.register(fs)
	// The webhook commands once took every flag of run; those that do
	// not concern one API call are still accepted, with a warning.
	fs.ignore(runFlagSet(&runConfig{}), "concurrency", "streams", "days", "full-refresh", "backfill-days", "resume-within",
		"commit-wait", "retain", "max-requests", "deadline", "dry-run", "export", "dashboard", "progress")
	if err := e.parse(fs, rest); err != nil {
		return err
	}
	if err := e.resolve(fs, &cfg, true); err != nil {
		return err
	}
	log, err := e.newLogger(cfg.logFlags, e.stderr)
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
		return e.registerWebhook(ctx, cfg, log, spec)
	case "list":
		if fs.NArg() > 0 {
			return usageErrorf("webhooks list: unexpected argument %q", fs.Arg(0))
		}
		return e.listWebhooks(ctx, cfg, log, campaign)
	}
	if fs.NArg() != 1 {
		return usageErrorf("webhooks delete takes one webhook id")
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return usageErrorf("webhooks delete %q: the id must be a positive integer", fs.Arg(0))
	}
	return e.deleteWebhook(ctx, cfg, log, id)
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
	if u.Scheme != "https" && !extract.IsLoopback(u.Hostname()) {
		return spec, usageErrorf("--url %q: SmartLead would send events over the Internet in clear; use https (plain http only to a loopback address)", rawURL)
	}
	if campaign < 0 || client < 0 || (campaign != 0 && client != 0) {
		return spec, usageErrorf("webhooks register: give at most one of --campaign and --client, as a positive id")
	}
	var types []string
	for _, e := range events {
		n := transform.NormalizeEventType(e)
		if !slices.Contains(transform.EventTypes, n) {
			return spec, usageErrorf("--events: unknown event type %q (known: %s)", e, strings.Join(transform.EventTypes, ","))
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

// apiSession is an API session for one command (see pipeline.Session).
// The warehouse is held only to read the quota memory and to write the
// ledger, never while a request waits.
type apiSession struct {
	*pipeline.Session
	e   *env
	cfg runConfig
	log *slog.Logger
}

func (e *env) newAPISession(ctx context.Context, cfg runConfig, log *slog.Logger) (*apiSession, error) {
	a := &apiSession{e: e, cfg: cfg, log: log}
	err := e.withStore(ctx, cfg.dbFlags, log, func(s *load.Store) error {
		var err error
		a.Session, err = pipeline.NewSession(ctx, e.pipelineConfig(cfg, log),
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
	return a.e.withStore(context.WithoutCancel(ctx), a.cfg.dbFlags, a.log, func(s *load.Store) error {
		if err := a.Flush(ctx, s); err != nil {
			return err
		}
		if fn != nil {
			return fn(s)
		}
		return nil
	})
}

// withStore opens the warehouse for writing (creating it) and runs fn.
func (e *env) withStore(ctx context.Context, c dbFlags, log *slog.Logger, fn func(*load.Store) error) error {
	s, err := load.Open(ctx, c.db, e.schema(), load.Options{LockWait: c.lockWait, Logger: log})
	if err != nil {
		return err
	}
	err = fn(s)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

func (e *env) registerWebhook(ctx context.Context, cfg runConfig, log *slog.Logger, spec extract.WebhookSpec) error {
	a, err := e.newAPISession(ctx, cfg, log)
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
	fmt.Fprintf(e.stdout, "registered webhook %d (%s-level) for %s\nevents: %s\n", id, spec.Association(), spec.URL, strings.Join(spec.EventTypes, ", "))
	return nil
}

func (e *env) listWebhooks(ctx context.Context, cfg runConfig, log *slog.Logger, campaign int64) error {
	stdout := e.stdout
	var known []load.WebhookRegistration
	if err := e.withStore(ctx, cfg.dbFlags, log, func(s *load.Store) error {
		var err error
		known, err = s.Webhooks(ctx)
		return err
	}); err != nil {
		return err
	}
	a, err := e.newAPISession(ctx, cfg, log)
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

func (e *env) deleteWebhook(ctx context.Context, cfg runConfig, log *slog.Logger, id int64) error {
	stdout := e.stdout
	a, err := e.newAPISession(ctx, cfg, log)
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
