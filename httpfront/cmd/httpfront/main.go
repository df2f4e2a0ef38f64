// Command httpfront runs the front end on a host (see package frontcmd):
//
//	httpfront -config front.json -listen 127.0.0.1:8080
//
// In the appliance the same code is part of the multi-call /init.
package main

import "github.com/mkimage/mkimage/httpfront/frontcmd"

func main() { frontcmd.Main() }
