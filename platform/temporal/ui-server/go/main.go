// Command ui-server serves the Temporal Web UI for a Temporal frontend that runs elsewhere. It exists because the
// Temporal CLI embeds this same UI only inside `temporal server start-dev`, with no way to point it at another
// frontend; it is configured as the CLI's dev server configures it (UI on, no auth, insecure CSRF cookie, quiet).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
)

func main() {
	frontend := flag.String("frontend", "", "the Temporal gRPC frontend, host:port (required)")
	ip := flag.String("ip", "127.0.0.1", "address to serve the UI on")
	port := flag.Int("port", 0, "HTTP port to serve the UI on (required)")
	namespace := flag.String("namespace", "default", "namespace the UI opens on")
	flag.Parse()
	if *frontend == "" || *port <= 0 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "ui-server: --frontend host:port and --port 1-65535 are required")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*frontend, *ip, *port, *namespace); err != nil {
		fmt.Fprintf(os.Stderr, "ui-server: %v\n", err)
		os.Exit(1)
	}
}

func run(frontend, ip string, port int, namespace string) error {
	address := net.JoinHostPort(ip, strconv.Itoa(port))
	// The UI server's own bind failure is a Fatal on echo's logger (stdout); checking first gives a plain error here.
	probe, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("cannot serve the Temporal UI on %s: %w", address, err)
	}
	if err := probe.Close(); err != nil {
		return err
	}

	host := ip
	if net.ParseIP(ip) != nil && net.ParseIP(ip).To4() == nil {
		host = "[" + ip + "]"
	}
	ui := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: frontend,
		DefaultNamespace:    namespace,
		EnableUI:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
	}))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- ui.Start() }()
	fmt.Fprintf(os.Stderr, "ui-server: serving the Temporal UI on http://%s for the frontend %s\n", address, frontend)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		ui.Stop()
		return nil
	}
}
