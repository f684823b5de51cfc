// Command probe is the health-probe Lambda behind each Region's HTTP API: Route 53
// calls it, and it round-trips MQTT messages through this Region's IoT broker.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/iot-dr/iot-dr/functions/awsclients"
	"github.com/iot-dr/iot-dr/functions/probe"
	"github.com/iot-dr/iot-dr/functions/spec"
)

func main() {
	log := awsclients.Logger()
	slog.SetDefault(log)
	if err := run(context.Background(), log); err != nil {
		log.Error("probe cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	cfg, err := awsclients.Config(ctx)
	if err != nil {
		return err
	}
	env := map[string]string{}
	for _, name := range []string{spec.EnvProbeEndpoint, spec.EnvProbeDomain, spec.EnvProbeSecretParam, spec.EnvProbeCertParam, spec.EnvProbeForceFailParam} {
		if env[name], err = awsclients.Env(name); err != nil {
			return err
		}
	}
	messages, err := awsclients.EnvInt(spec.EnvProbeMessages, probe.DefaultMessages)
	if err != nil {
		return err
	}
	timeoutMS, err := awsclients.EnvInt(spec.EnvProbeTimeoutMS, int(probe.DefaultTimeout.Milliseconds()))
	if err != nil {
		return err
	}
	// Dial this Region's endpoint but name the custom domain (SNI) and verify its
	// certificate: the path devices take through this Region's domain configuration.
	broker, _, err := probe.BrokerURL(env[spec.EnvProbeEndpoint])
	if err != nil {
		return err
	}
	store := ssm.NewFromConfig(cfg)
	// The certificate is read once per cold start; the secret is cached for a minute
	// (a rotation is picked up at once and the previous secret accepted for a while:
	// RotatingSecret); the drill switch is re-read every few seconds.
	pem, err := (&probe.Parameter{Store: store, Name: env[spec.EnvProbeCertParam], Decrypt: true}).Get(ctx)
	if err != nil {
		return err
	}
	tlsCfg, err := probe.ClientTLS([]byte(pem), env[spec.EnvProbeDomain])
	if err != nil {
		return err
	}
	h := &probe.Handler{
		Secret:    &probe.RotatingSecret{Store: store, Name: env[spec.EnvProbeSecretParam], Logger: log},
		ForceFail: (&probe.Parameter{Store: store, Name: env[spec.EnvProbeForceFailParam], TTL: 3 * time.Second, Logger: log}).Bool,
		Probe:     &probe.Prober{Broker: broker, TLS: tlsCfg, Messages: messages, Timeout: time.Duration(timeoutMS) * time.Millisecond},
		Logger:    log,
	}
	lambda.Start(h.Handle)
	return nil
}
