"""Background jobs: periodic channel tests, balance refreshes and root's notices, one node at a time."""

from admin_api.jobs.runner import Job, JobRunner, JobTiming

__all__ = ["Job", "JobRunner", "JobTiming"]
