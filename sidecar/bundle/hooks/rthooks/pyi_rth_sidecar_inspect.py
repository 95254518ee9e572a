# In place of PyInstaller's runtime hook for `inspect` (build.py passes this folder with --additional-hooks-dir;
# a hook directory given by the user takes a module's runtime hooks over). That hook teaches
# inspect.getsourcefile where a frozen module's source would lie, and to do so imports zipfile (and with it
# pathlib and shutil) before the sidecar's first line. The sidecar never asks inspect for a source file, so
# its binary starts without them.
