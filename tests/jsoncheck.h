/* A strict RFC 8259 checker, small enough to trust, for the tests of
 * `filecache stats --json` (GLib has no JSON parser). */
#pragma once

#include <glib.h>
#include <string.h>

typedef struct {
  const char *p;
  int depth;
} JsonCursor;

static gboolean json_value (JsonCursor *c, char **raw);

static void
json_space (JsonCursor *c)
{
  while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')
    c->p++;
}

/* A string; @decoded (nullable) gets its text with the escapes undone
 * (\u escapes below 0x80 only, which is all these tests need). */
static gboolean
json_string (JsonCursor *c, char **decoded)
{
  GString *out = g_string_new (NULL);
  const char *end;

  if (*c->p != '"')
    goto fail;
  c->p++;
  for (;;)
    {
      guchar ch = *c->p;

      if (ch == '"')
        break;
      if (ch < 0x20)  /* the NUL at the end, or a raw control character */
        goto fail;
      if (ch != '\\')
        {
          g_string_append_c (out, ch);
          c->p++;
          continue;
        }
      c->p++;
      switch (*c->p)
        {
        case '"': case '\\': case '/':
          g_string_append_c (out, *c->p);
          break;
        case 'b': g_string_append_c (out, '\b'); break;
        case 'f': g_string_append_c (out, '\f'); break;
        case 'n': g_string_append_c (out, '\n'); break;
        case 'r': g_string_append_c (out, '\r'); break;
        case 't': g_string_append_c (out, '\t'); break;
        case 'u':
          for (int i = 1; i <= 4; i++)
            if (!g_ascii_isxdigit (c->p[i]))
              goto fail;
          g_string_append_c (out, (char) g_ascii_strtoull (c->p + 1, NULL, 16));
          c->p += 4;
          break;
        default:
          goto fail;
        }
      c->p++;
    }
  c->p++;
  end = out->str + out->len;
  if (!g_utf8_validate (out->str, end - out->str, NULL))
    goto fail;
  if (decoded != NULL)
    *decoded = g_string_free (out, FALSE);
  else
    g_string_free (out, TRUE);
  return TRUE;

fail:
  g_string_free (out, TRUE);
  return FALSE;
}

static gboolean
json_number (JsonCursor *c)
{
  if (*c->p == '-')
    c->p++;
  if (*c->p == '0')
    c->p++;
  else if (*c->p >= '1' && *c->p <= '9')
    while (g_ascii_isdigit (*c->p))
      c->p++;
  else
    return FALSE;
  if (*c->p == '.')
    {
      c->p++;
      if (!g_ascii_isdigit (*c->p))
        return FALSE;
      while (g_ascii_isdigit (*c->p))
        c->p++;
    }
  if (*c->p == 'e' || *c->p == 'E')
    {
      c->p++;
      if (*c->p == '+' || *c->p == '-')
        c->p++;
      if (!g_ascii_isdigit (*c->p))
        return FALSE;
      while (g_ascii_isdigit (*c->p))
        c->p++;
    }
  return TRUE;
}

static gboolean
json_members (JsonCursor *c, char open, char close, GHashTable *members)
{
  gboolean first = TRUE;

  if (*c->p != open || ++c->depth > 64)
    return FALSE;
  c->p++;
  json_space (c);
  if (*c->p == close)
    {
      c->p++;
      c->depth--;
      return TRUE;
    }
  for (;;)
    {
      char *key = NULL;
      char *raw = NULL;

      if (!first)
        {
          if (*c->p != ',')
            return FALSE;
          c->p++;
          json_space (c);
        }
      first = FALSE;
      if (open == '{')
        {
          if (!json_string (c, &key))
            return FALSE;
          json_space (c);
          if (*c->p != ':')
            {
              g_free (key);
              return FALSE;
            }
          c->p++;
          json_space (c);
        }
      if (!json_value (c, members != NULL ? &raw : NULL))
        {
          g_free (key);
          return FALSE;
        }
      /* Duplicate names are legal JSON but useless output. */
      if (members != NULL && (key == NULL || g_hash_table_contains (members, key)))
        {
          g_free (key);
          g_free (raw);
          return FALSE;
        }
      if (members != NULL)
        g_hash_table_insert (members, key, raw);
      else
        g_free (key);
      json_space (c);
      if (*c->p == close)
        {
          c->p++;
          c->depth--;
          return TRUE;
        }
    }
}

/* @raw (nullable) gets the value's text as written. */
static gboolean
json_value (JsonCursor *c, char **raw)
{
  const char *start = c->p;
  gboolean ok;

  if (*c->p == '{')
    ok = json_members (c, '{', '}', NULL);
  else if (*c->p == '[')
    ok = json_members (c, '[', ']', NULL);
  else if (*c->p == '"')
    ok = json_string (c, NULL);
  else if (strncmp (c->p, "true", 4) == 0 || strncmp (c->p, "null", 4) == 0)
    ok = (c->p += 4, TRUE);
  else if (strncmp (c->p, "false", 5) == 0)
    ok = (c->p += 5, TRUE);
  else
    ok = json_number (c);
  if (ok && raw != NULL)
    *raw = g_strndup (start, c->p - start);
  return ok;
}

/* Returns: (transfer full) (nullable): if @text is exactly one JSON object
 * (whitespace around it allowed), its members: decoded name -> the value's
 * text as written; %NULL if @text is not valid JSON or has a name twice. */
G_GNUC_UNUSED static GHashTable *
json_parse_object (const char *text)
{
  JsonCursor c = { text, 0 };
  GHashTable *members = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  json_space (&c);
  if (!json_members (&c, '{', '}', members))
    goto fail;
  json_space (&c);
  if (*c.p != '\0')
    goto fail;
  return members;

fail:
  g_hash_table_unref (members);
  return NULL;
}
