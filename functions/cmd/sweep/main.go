// Command sweep is the Lambda the sweep state machine calls: one page of the capture
// sweep.
package main

import "github.com/iot-dr/iot-dr/functions/awsclients"

func main() {
	awsclients.StartPipeline("sweep", func(p *awsclients.Pipeline) any { return p.Sweep.Handle })
}
