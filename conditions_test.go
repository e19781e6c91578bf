package ledgerless_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ledgerless/ledgerless"
)

func TestConditionOfWrapped(t *testing.T) {
	for _, c := range ledgerless.Conditions {
		got, ok := ledgerless.ConditionOf(fmt.Errorf("op: %w", c.Err))
		if !ok || got.RocketMQ != c.RocketMQ || got.Code != c.Code {
			t.Errorf("%v: got %+v", c.Err, got)
		}
	}
	if got, ok := ledgerless.ConditionOf(errors.New("boom")); ok || got.RocketMQ != ledgerless.RocketMQSystemError {
		t.Errorf("unknown error: %+v, %v", got, ok)
	}
	inv := ledgerless.Invalid("x must be 1")
	if !errors.Is(inv, ledgerless.ErrInvalidRequest) || inv.Error() != "x must be 1" {
		t.Errorf("Invalid: %v", inv)
	}
}
