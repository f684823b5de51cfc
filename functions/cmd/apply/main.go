// Command apply is the Lambda on the state table's replica stream: it converges this
// Region to the items other Regions captured.
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
		log.Error("apply cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(p.Apply.Handle)
}
