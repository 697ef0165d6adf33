/* A tiny JSON reader for the fake's state files: objects, arrays, strings (\" \\ \/ \n \t \uXXXX escapes), numbers, booleans, null. */
#ifndef FAKE_NVML_JSON_H
#define FAKE_NVML_JSON_H

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jnode {
    jtype type;
    double num;
    char *str;             /* J_STR value */
    char *key;             /* the member name when inside an object */
    struct jnode **items;  /* J_ARR / J_OBJ children */
    int count;
} jnode;

/* Parses text; on error returns NULL and writes a message with the byte offset into err. */
jnode *json_parse(const char *text, char *err, int errlen);
jnode *json_get(const jnode *obj, const char *key);
const char *json_str(const jnode *obj, const char *key, const char *fallback);
double json_num(const jnode *obj, const char *key, double fallback);
int json_bool(const jnode *obj, const char *key, int fallback);

#endif
