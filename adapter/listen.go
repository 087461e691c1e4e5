package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
)

// ListenAndServe serves DAP clients that connect to ln, each in an
// independent session of its own (its own target, gdb and bridge), until
// ctx ends; then it closes ln, cancels every session and waits for them to
// leave their targets running. A session that fails — even by panicking —
// ends alone.
func ListenAndServe(ctx context.Context, ln net.Listener, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	var sessions sync.WaitGroup
	defer sessions.Wait()
	for id := 1; ; id++ {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accepting DAP clients: %w", err)
		}
		sessions.Add(1)
		go func() {
			defer sessions.Done()
			serveConn(ctx, conn, cfg, cfg.Log.With("session", id, "client", conn.RemoteAddr().String()))
		}()
	}
}

// serveConn runs one client's session and closes its connection.
func serveConn(ctx context.Context, conn net.Conn, cfg Config, log *slog.Logger) {
	defer conn.Close()
	defer func() {
		if p := recover(); p != nil {
			log.Error("session crashed; the server carries on", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	log.Info("client connected")
	cfg.Log = log
	if err := Serve(ctx, conn, conn, cfg); err != nil {
		log.Warn("session ended with an error", "err", err)
		return
	}
	log.Info("client disconnected")
}

// IsLoopback reports whether addr (host:port) names only this machine, so
// that nothing else on the network can reach a listener on it.
func IsLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}
