package awsfront

import (
	"encoding/xml"
	"net/http"
)

// serveRoute53 answers Route 53's REST-XML protocol.
func (h *handler) serveRoute53(w http.ResponseWriter, r *http.Request, body []byte) string {
	writeXMLError(w, newAPIError(http.StatusBadRequest, "UnknownOperationException", "Route 53 %s %s is not served yet", r.Method, r.URL.Path))
	return ""
}

// writeXMLError answers in REST-XML's error shape.
func writeXMLError(w http.ResponseWriter, e *apiError) {
	type xmlError struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	b, _ := xml.Marshal(struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     xmlError `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}{Xmlns: route53Namespace, Error: xmlError{Type: typ, Code: e.code, Message: e.msg}, RequestID: w.Header().Get("X-Amzn-Requestid")})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	_, _ = w.Write(append([]byte(xml.Header), b...))
}

const route53Namespace = "https://route53.amazonaws.com/doc/2013-04-01/"
