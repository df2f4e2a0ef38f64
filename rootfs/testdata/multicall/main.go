// Command multicall is a test program: it prints the name it was run as.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() { fmt.Println(filepath.Base(os.Args[0])) }
