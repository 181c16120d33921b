/* Validation of what a client asks for: task names and texts, directories confined to --root,
 * and the template's input specification. Nothing here touches the store. */
#ifndef TOD_SERVICE_TASKS_H
#define TOD_SERVICE_TASKS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "service/templates.h"

#define TOD_NAME_MAX_CHARS 64
#define TOD_DESCRIPTION_MAX_CHARS 256
#define TOD_PATH_MAX_BYTES 1024

/* 1 when name is 1-64 characters of letters, digits, '-' and '_' (CJK ideographs count as letters). */
int tod_task_name_valid(const char *name, char *err, size_t errlen);

/* Resolves rel (relative to the real path root_real) into abs (n bytes). Refuses absolute paths,
 * '..' components, control characters, and anything whose real path (symlinks followed) leaves
 * root_real. must_exist: the path must exist; otherwise its deepest existing ancestor must be
 * inside root_real and no component below it may be a (dangling) symlink. norm (n bytes, may be
 * NULL) receives rel normalised ("a//./b/" -> "a/b", "" components dropped, "." for the root). */
int tod_path_confine(const char *root_real, const char *rel, int must_exist, char *abs, char *norm, size_t n,
                     char *err, size_t errlen);

/* Checks that the directory rel under root_real holds exactly one model file of the template's
 * format and no model file of another format; model_abs (n bytes) receives the model's real path. */
int tod_input_dir_check(const char *root_real, const char *rel, const tod_template *t, char *model_abs, size_t n,
                        char *err, size_t errlen);

/* Validates a create request body. On success returns a new object with the normalised fields
 * name, description, template_id, input_dir, output_dir and options (defaults filled in); the
 * caller owns it. NULL with the reason in err otherwise. */
cJSON *tod_task_request_validate(const cJSON *body, const char *root_real, char *err, size_t errlen);

#endif
