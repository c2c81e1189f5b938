package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// soakDB is the run's own MySQL database, created fresh and dropped at
// the end, as the store tests do.
type soakDB struct {
	admin *sql.DB
	name  string
	cfg   *mysql.Config // the database itself, on the real server
}

func createDB(ctx context.Context, adminDSN string) (*soakDB, error) {
	admin, err := sql.Open("mysql", adminDSN)
	if err != nil {
		return nil, fmt.Errorf("mysql admin DSN: %w", err)
	}
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("MySQL/MariaDB at %s is required and unreachable: %w", adminDSN, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "balance_soak_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create database: %w", err)
	}
	cfg, err := mysql.ParseDSN(adminDSN)
	if err != nil {
		admin.Close()
		return nil, err
	}
	cfg.DBName = name
	return &soakDB{admin: admin, name: name, cfg: cfg}, nil
}

// dsnVia is the DSN balance gets: the same database through addr (the
// cuttable proxy), with timeouts short enough that an outage shows.
func (d *soakDB) dsnVia(addr string) string {
	c := d.cfg.Clone()
	c.Addr = addr
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 2*time.Second, 5*time.Second, 5*time.Second
	return c.FormatDSN()
}

func (d *soakDB) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := d.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+d.name)
	d.admin.Close()
	return err
}

// storeCounts is what the database says about the run's requests.
type storeCounts struct {
	Rows        int64 // rows of the requests view (raw request records)
	RollupTotal int64 // sum of requests over the minute rollups
	ErrorRows   int64
}

func (d *soakDB) counts(ctx context.Context) (storeCounts, error) {
	var c storeCounts
	q := func(query string, dst *int64) error {
		var v sql.NullInt64
		if err := d.admin.QueryRowContext(ctx, query).Scan(&v); err != nil {
			return fmt.Errorf("%s: %w", query, err)
		}
		*dst = v.Int64
		return nil
	}
	if err := q("SELECT COUNT(*) FROM "+d.name+".requests", &c.Rows); err != nil {
		return c, err
	}
	if err := q("SELECT SUM(requests) FROM "+d.name+".rollup_1m", &c.RollupTotal); err != nil {
		return c, err
	}
	return c, q("SELECT COUNT(*) FROM "+d.name+".errors", &c.ErrorRows)
}

// secretsInTables reads every text-like column of every base table and
// counts the secrets found, by "table.column".
func (d *soakDB) secretsInTables(ctx context.Context, secrets []string) (found map[string]int, scanned int, err error) {
	rows, err := d.admin.QueryContext(ctx, `SELECT c.TABLE_NAME, c.COLUMN_NAME FROM information_schema.COLUMNS c
		JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
		WHERE c.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'BASE TABLE'
		AND c.DATA_TYPE IN ('char','varchar','tinytext','text','mediumtext','longtext','json','binary','varbinary','tinyblob','blob','mediumblob','longblob')`, d.name)
	if err != nil {
		return nil, 0, err
	}
	type col struct{ table, name string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.name); err != nil {
			rows.Close()
			return nil, 0, err
		}
		cols = append(cols, c)
	}
	rows.Close()
	found = map[string]int{}
	for _, c := range cols {
		r, err := d.admin.QueryContext(ctx, fmt.Sprintf("SELECT `%s` FROM %s.`%s`", c.name, d.name, c.table))
		if err != nil {
			return found, scanned, err
		}
		for r.Next() {
			var v []byte
			if err := r.Scan(&v); err != nil {
				r.Close()
				return found, scanned, err
			}
			scanned++
			for _, s := range secrets {
				if strings.Contains(string(v), s) {
					found[c.table+"."+c.name]++
				}
			}
		}
		r.Close()
	}
	return found, scanned, nil
}
