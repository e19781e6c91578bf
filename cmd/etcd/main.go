// Command etcd is etcd's own server, built from the official module at
// the version ledgerless uses (go.etcd.io/etcd/server/v3/etcdmain), so
// that tests and demos run a real external etcd cluster without
// installing one. It takes etcd's flags: etcd --help.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
