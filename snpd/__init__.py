"""SNPD's composition root: wires core, feature slices and adapters; home of the ``snpd`` CLI."""
