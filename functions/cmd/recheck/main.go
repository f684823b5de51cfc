// Command recheck is the Lambda the re-check state machine calls: one pass over a new
// thing's attachments.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/iot-dr/iot-dr/functions/awsclients"
)

func main() {
	log := awsclients.Logger()
	p, err := awsclients.NewPipeline(context.Background(), log)
	if err != nil {
		log.Error("recheck cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(p.Recheck.Handle)
}
