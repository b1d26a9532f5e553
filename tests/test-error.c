/* Tests for gh_error_set (gh/error.h): first error wins, formatting, truncation. */
#include "gh/error.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

static void test_set(void)
{
	struct gh_error err = { 0 };

	g_assert_cmpint(gh_error_set(&err, -ENOENT, "no file %s at line %d (%#x)",
				     "disk.img", 42, 0x1f), ==, -ENOENT);
	g_assert_cmpint(err.code, ==, -ENOENT);
	g_assert_cmpstr(err.msg, ==, "no file disk.img at line 42 (0x1f)");
}

/* The innermost cause is recorded first; callers up the stack add nothing. */
static void test_first_wins(void)
{
	struct gh_error err = { 0 };

	g_assert_cmpint(gh_error_set(&err, -EINVAL, "inner %d", 1), ==, -EINVAL);
	g_assert_cmpint(gh_error_set(&err, -EIO, "outer %d", 2), ==, -EIO);
	g_assert_cmpint(gh_error_set(&err, -ENOMEM, "%s", "outermost"), ==, -ENOMEM);
	g_assert_cmpint(err.code, ==, -EINVAL);
	g_assert_cmpstr(err.msg, ==, "inner 1");
}

/* Callers that do not care pass NULL and still get the code back. */
static void test_null(void)
{
	g_assert_cmpint(gh_error_set(NULL, -EBUSY, "ignored %s", "text"), ==, -EBUSY);
}

static void test_truncation(void)
{
	struct gh_error err;
	char *long_msg = g_strnfill(1000, 'x');
	size_t i;

	/* Poison the buffer so a missing terminator shows. */
	memset(&err, 0, sizeof(err));
	memset(err.msg, '#', sizeof(err.msg));
	g_assert_cmpint(gh_error_set(&err, -E2BIG, "%s-%s", "head", long_msg), ==, -E2BIG);
	g_assert_cmpint(err.code, ==, -E2BIG);
	g_assert_cmpuint(strlen(err.msg), ==, sizeof(err.msg) - 1);
	g_assert_true(g_str_has_prefix(err.msg, "head-xxx"));
	for (i = 5; i < sizeof(err.msg) - 1; i++)
		g_assert_cmpint(err.msg[i], ==, 'x');
	g_free(long_msg);
}

/* A message exactly filling the buffer is kept whole. */
static void test_exact_fit(void)
{
	struct gh_error err = { 0 };
	char *msg = g_strnfill(sizeof(err.msg) - 1, 'a');

	gh_error_set(&err, -EFAULT, "%s", msg);
	g_assert_cmpstr(err.msg, ==, msg);
	g_free(msg);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/error/set", test_set);
	g_test_add_func("/error/first-wins", test_first_wins);
	g_test_add_func("/error/null", test_null);
	g_test_add_func("/error/truncation", test_truncation);
	g_test_add_func("/error/exact-fit", test_exact_fit);
	return g_test_run();
}
