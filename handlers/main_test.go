package handlers_test

import (
	"os"
	"testing"

	"github.com/ledgerless/ledgerless/store/storetest"
)

func TestMain(m *testing.M) {
	code := storetest.Main(m)
	if code == 0 && !openAPICheck.report() {
		code = 1
	}
	os.Exit(code)
}
