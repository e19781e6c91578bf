package handlers_test

import (
	"os"
	"testing"

	"github.com/ledgerless/ledgerless/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
