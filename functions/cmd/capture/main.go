// Command capture is the Lambda the capture rules invoke: it writes the changed
// resource's state item.
package main

import "github.com/iot-dr/iot-dr/functions/awsclients"

func main() {
	awsclients.StartPipeline("capture", func(p *awsclients.Pipeline) any { return p.Capture.Handle })
}
