package azuritetest_test

import (
	"context"
	"os"
	"regexp"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite/azuritetest"
)

func TestMain(m *testing.M) { os.Exit(azuritetest.Main(m)) }

func TestSharedServesTables(t *testing.T) {
	p := azuritetest.Shared(t)
	if p != azuritetest.Shared(t) {
		t.Error("Shared returned two different emulators")
	}
	svc, err := aztables.NewServiceClientFromConnectionString(p.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateTable(context.Background(), azuritetest.UniqueTable(t), nil); err != nil {
		t.Fatal(err)
	}
}

func TestExternalEmulatorIsUsedWhenNamed(t *testing.T) {
	const conn = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:1/devstoreaccount1;"
	t.Setenv(azuritetest.EnvConnectionString, conn)
	p := azuritetest.Start(t)
	if p.ConnectionString() != conn || p.PID() != 0 {
		t.Errorf("Start with %s set: conn %q pid %d, want the external one", azuritetest.EnvConnectionString, p.ConnectionString(), p.PID())
	}
}

func TestUniqueTable(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{2,62}$`)
	a, b := azuritetest.UniqueTable(t), azuritetest.UniqueTable(t)
	if a == b || !valid.MatchString(a) || !valid.MatchString(b) {
		t.Errorf("UniqueTable gave %q and %q", a, b)
	}
}
