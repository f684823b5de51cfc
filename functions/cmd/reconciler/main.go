// Command reconciler is the scheduled Lambda that re-drives the error table and, when
// its schedule asks for it, reconciles the two Regions in full.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iot-dr/iot-dr/functions/awsclients"
	"github.com/iot-dr/iot-dr/functions/reconcile"
	"github.com/iot-dr/iot-dr/functions/spec"
)

func main() {
	log := awsclients.Logger()
	ctx := context.Background()
	w, rep, err := awsclients.Workers(ctx, log)
	table, err2 := awsclients.Env(spec.EnvErrorTable)
	cfg, err3 := awsclients.Config(ctx)
	for _, e := range []error{err, err2, err3} {
		if e != nil {
			log.Error("reconciler cannot start", "error", e)
			os.Exit(1)
		}
	}
	h := &reconcile.Handler{
		Errors: dynamodb.NewFromConfig(cfg), TableName: table,
		Apply: w, Full: rep, Logger: log,
	}
	lambda.Start(h.Handle)
}
