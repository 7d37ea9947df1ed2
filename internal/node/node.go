// Package node drives Hoard's cache engine through a line-delimited JSON
// message protocol on a reader and a writer (stdin and stdout), in the style
// of Maelstrom: each input is {"src","dest","body"}, each body has a type,
// and every message the node sends carries its own msg_id.
//
// The node is an adapter: requests go through the same proxy.Handler that
// "hoard serve" runs, in front of a scripted origin (or a real one), with a
// clock that the harness moves. It must not implement caching rules itself.
package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hoard-cache/hoard/internal/proxy"
	"github.com/hoard-cache/hoard/internal/store/memory"
)

// Error codes of the protocol.
const (
	CodeNotSupported = 10 // unknown message type
	CodeMalformed    = 12 // known type, missing or wrong fields
	CodeCrash        = 13 // the handler failed
)

// maxMessage bounds one input message, so that a stream without a complete
// JSON value cannot grow the buffer without limit.
const maxMessage = 16 << 20

// Options configures a Node.
type Options struct {
	// Origin, when set, is a real origin that requests are sent to instead
	// of the scripted one.
	Origin *url.URL
	// MaxMemory bounds the cache, in bytes. Zero means 64 MiB.
	MaxMemory int64
	// MaxObjectSize is the largest body stored. Zero means 16 MiB.
	MaxObjectSize int64
	// HeuristicMax caps heuristic freshness. Zero means 24h.
	HeuristicMax time.Duration
	// OriginTimeout bounds an origin exchange. Zero means 30s.
	OriginTimeout time.Duration
	// Start is the node clock's initial time. Zero means the current time,
	// rounded down to a whole second.
	Start time.Time
	// Logger receives diagnostics (never stdout). Nil discards.
	Logger *slog.Logger
}

// Node is one protocol endpoint over one cache engine.
type Node struct {
	opts   Options
	clock  *clock
	origin *scriptedOrigin
	proxy  *proxy.Handler
	log    *slog.Logger

	id    string // set by init
	out   *bufio.Writer
	msgID int64
}

// New builds a node and its cache engine.
func New(opts Options) (*Node, error) {
	if opts.MaxMemory == 0 {
		opts.MaxMemory = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	start := opts.Start
	if start.IsZero() {
		start = time.Now().Truncate(time.Second)
	}
	n := &Node{opts: opts, clock: &clock{now: start}, log: opts.Logger}
	n.origin = newScriptedOrigin(n.clock)
	st, err := memory.New(memory.Options{MaxBytes: opts.MaxMemory, MaxObjectSize: opts.MaxObjectSize, Clock: n.clock.Now})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	popts := proxy.Options{
		Store:         st,
		MaxObjectSize: opts.MaxObjectSize,
		HeuristicMax:  opts.HeuristicMax,
		OriginTimeout: opts.OriginTimeout,
		Clock:         n.clock.Now,
		Logger:        opts.Logger,
	}
	popts.Transport = n.origin
	if opts.Origin != nil {
		popts.Origin = opts.Origin
		n.origin.upstream = newTransport(opts.OriginTimeout)
	} else {
		popts.Origin = &url.URL{Scheme: "http", Host: "origin.invalid"}
	}
	if n.proxy, err = proxy.New(popts); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	return n, nil
}

// newTransport is the transport to a real origin.
func newTransport(timeout time.Duration) http.RoundTripper {
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	return &http.Transport{DisableCompression: true, ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 16}
}

// clock is the node's clock: it only moves when advance_clock says so.
type clock struct {
	mu  sync.Mutex
	now time.Time // guarded by mu
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// message is one protocol message.
type message struct {
	Src  string          `json:"src"`
	Dest string          `json:"dest"`
	Body json.RawMessage `json:"body"`
}

// Run reads messages from in until it ends, answering each on out. Input
// that is not JSON is reported on the logger and skipped; it returns an
// error only when reading or writing fails.
func (n *Node) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	n.out = bufio.NewWriter(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxMessage)
	var pending bytes.Buffer // lines of a JSON value that spans lines
	for sc.Scan() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		line := sc.Bytes()
		if pending.Len() == 0 {
			trimmed := bytes.TrimSpace(line)
			if len(trimmed) == 0 {
				continue
			}
			if trimmed[0] != '{' {
				n.log.Warn("skipping input that is not a JSON object", "line", truncate(trimmed))
				continue
			}
		}
		first := pending.Len() == 0
		pending.Write(line)
		pending.WriteByte('\n')
		if !first && !bytes.ContainsRune(line, '}') && pending.Len() <= maxMessage {
			// An object can only end on a line with a closing brace, so
			// decoding the value so far again would be wasted work. (A
			// first line is always decoded, so that garbage is reported
			// at once.)
			continue
		}
		var msg message
		err := json.NewDecoder(bytes.NewReader(pending.Bytes())).Decode(&msg)
		switch {
		case err == nil:
			pending.Reset()
			if err := n.handle(ctx, msg); err != nil {
				return err
			}
		case errors.Is(err, io.ErrUnexpectedEOF):
			if pending.Len() > maxMessage {
				n.log.Warn("skipping an unterminated JSON value", "bytes", pending.Len())
				pending.Reset()
			}
			// An incomplete value: read on.
		default:
			n.log.Warn("skipping input that is not a valid message", "error", err, "input", truncate(pending.Bytes()))
			pending.Reset()
		}
	}
	if pending.Len() > 0 {
		n.log.Warn("input ended inside a JSON value; skipped", "input", truncate(pending.Bytes()))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("node: reading input: %w", err)
	}
	return n.out.Flush()
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
