package election

import (
	"os"
	"testing"

	"github.com/ledgerless/ledgerless/store/storetest"
)

// TestMain fails the tests when a goroutine outlives them (storetest.Main
// checks), and stops the etcd of the tests that use one.
func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
