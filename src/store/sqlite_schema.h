/* Versioned schema migrations for the SQLite store. */
#ifndef TG_STORE_SQLITE_SCHEMA_H
#define TG_STORE_SQLITE_SCHEMA_H

#include <sqlite3.h>

#include "core/err.h"

/* One step: SQL taking the schema from version N-1 to N (its index + 1). */
struct tg_sq_migration {
    const char *name;
    const char *sql;
};

/* The store's migrations, oldest first; append, never edit a released one. */
extern const struct tg_sq_migration tg_sq_migrations[];
extern const int tg_sq_migrations_count;

/* Bring `db` to version n_steps, one transaction (BEGIN IMMEDIATE) per step,
 * so a step that fails leaves the database at the previous version. A
 * database at a version above n_steps (written by a newer Tollgate) is
 * refused with TG_ERR_STORE and left untouched. *version: the version
 * reached. Takes the steps as a parameter so tests can run the mechanism on
 * their own schema. */
enum tg_err tg_sq_migrate(sqlite3 *db, const struct tg_sq_migration *steps, int n_steps,
                          int *version) TG_MUST_CHECK;

#endif
