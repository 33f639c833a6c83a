"""Paper scale: every chapter in the full profile, one job per (chapter, seed), then one gather step.

The command line is :mod:`scripts.run_full`; its work is split by job, one module each:

* :mod:`~scripts.full.jobs`: what to run, one :class:`~scripts.full.jobs.Job` per chapter and seed (the paper's runs,
  the longest chapters first: ``chapters.yml``);
* :mod:`~scripts.full.execute`: one job, a notebook executed by papermill into its own folder with its ``job.json``;
* :mod:`~scripts.full.submit`: the jobs through submitit, local processes (each on the least busy GPU) or Slurm;
* :mod:`~scripts.full.gather`: every job's tables merged into ``summary.json``, failures named;
* :mod:`~scripts.full.cost`: what paper scale costs, from the models the jobs trained;
* :mod:`~scripts.full.report`: the summary as Markdown.
"""
