"""The book's tools: building, checking and running the book, as ``python -m scripts.<tool>`` from the repository's
root (the Makefile calls them). The library the chapters use is :mod:`vaebook`; these are not installed with it. (Modules that import no other tool, such as build_bundle and colab_cell, also run as
``python scripts/<tool>.py``.)

* :mod:`scripts.chapters`: the chapter manifest (``chapters.yml``) that every tool reads;
* :mod:`scripts.execute_book`: executes the notebooks into Jupyter Book's cache (``make book``);
* :mod:`scripts.run_full`: paper scale, one job per (chapter, seed), local or on Slurm (``make full``);
* :mod:`scripts.seeds`: the seed runs behind every verdict (``make seeds``);
* :mod:`scripts.nbval_reference`: the stored executions that ``make nbval`` compares against;
* :mod:`scripts.stress_kernels`: kernel stalls, every smoke notebook many times (``make stress``);
* :mod:`scripts.workarounds`: every work-around for an upstream bug, each with its issue and checked versions;
* :mod:`scripts.colab_cell`, :mod:`scripts.build_bundle`, :mod:`scripts.compare_builds`: the Colab set-up cell,
  the bundled data subsets, two builds' numbers side by side.
"""
