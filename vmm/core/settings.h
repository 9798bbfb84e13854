/* Builds the effective settings: built-in defaults and host heuristics,
 * then config.toml (config_file.c), then the environment; then the derived
 * choices (accelerator, network mode). */
#ifndef BANGER_SETTINGS_H
#define BANGER_SETTINGS_H

#include "paths.h"
#include "vmm.h"

/* A bad value anywhere is an error naming where it came from
 * ("config.toml:7: nat: want true or false"). paths->ssh_key may be
 * replaced by the configured ssh_key_path. */
int settings_load(struct vmm_settings *s, struct bgr_paths *paths, bgr_error *err);
void settings_free(struct vmm_settings *s);

/* config_file.c: applies path (a missing file is fine) on top of s. */
int config_file_apply(const char *path, struct vmm_settings *s, struct bgr_paths *paths, bgr_error *err);

/* Checks shared by the config file and the environment; each returns 0 or
 * -EINVAL with "<what>: <reason>" in err. */
/* setting_values.c: check v, store it with its source */
void setting_src_set(setting_src dst, const char *text);
int setting_network(struct vmm_settings *s, const char *v, const char *src, bgr_error *err);
int setting_bridge(struct vmm_settings *s, const char *v, const char *src, bgr_error *err);
int setting_subnet(struct vmm_settings *s, const char *v, const char *src, bgr_error *err);
int setting_accel(struct vmm_settings *s, const char *v, const char *src, bgr_error *err);
int setting_vmm(struct vmm_settings *s, const char *v, const char *src, bgr_error *err);
int setting_catalog(struct vmm_settings *s, const char *v, const char *src, bgr_error *err);
int setting_image(struct vmm_settings *s, const char *v, const char *src, bgr_error *err);

#endif
