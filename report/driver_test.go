package report

import (
	"database/sql"
	"errors"
	"testing"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"
)

// TestMultiStatementMessage pins the error duckdb-go returns from
// Conn.Prepare for several statements, which multiStatement recognises by
// its text. If a driver upgrade changes the text, this fails first.
func TestMultiStatementMessage(t *testing.T) {
	connector, err := duckdb.NewConnector("", nil)
	require.NoError(t, err)
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	var prepErr error
	require.NoError(t, conn.Raw(func(dc any) error {
		st, err := dc.(*duckdb.Conn).Prepare("SELECT 1; SELECT 2")
		if err == nil {
			_ = st.Close()
			return errors.New("two statements were prepared")
		}
		prepErr = err
		return nil
	}))
	require.Equal(t, "could not prepare query\nmissing context for multi-statement query: try using PrepareContext", prepErr.Error())
	require.True(t, multiStatement(prepErr))

	// A DuckDB error whose text happens to mention it is not the refusal.
	var synErr error
	require.NoError(t, conn.Raw(func(dc any) error {
		_, synErr = dc.(*duckdb.Conn).Prepare("SELEC 'missing context for multi-statement query'")
		return nil
	}))
	require.Error(t, synErr)
	require.False(t, multiStatement(synErr), synErr.Error())
}
