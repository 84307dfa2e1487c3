/* Operational log (not the audit log). Never pass a secret or a whole token:
 * log ids (jti, kid, client id) and fingerprints only. */
#ifndef TG_CORE_LOG_H
#define TG_CORE_LOG_H

enum tg_log_level { TG_LOG_ERROR = 0, TG_LOG_WARN, TG_LOG_INFO, TG_LOG_DEBUG };

void tg_log_set_level(enum tg_log_level level);
enum tg_log_level tg_log_get_level(void);

#define TG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* _warn appends strerror(errno); _warnx does not. */
void tg_log_warn(const char *fmt, ...) TG_PRINTF(1, 2);
void tg_log_warnx(const char *fmt, ...) TG_PRINTF(1, 2);
void tg_log_info(const char *fmt, ...) TG_PRINTF(1, 2);
void tg_log_debug_at(const char *func, const char *fmt, ...) TG_PRINTF(2, 3);
void tg_fatalx(const char *fmt, ...) TG_PRINTF(1, 2) __attribute__((noreturn));

#define tg_log_debug(...) tg_log_debug_at(__func__, __VA_ARGS__)

#endif
