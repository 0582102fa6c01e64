"""A job run's Spark work: the Spark jobs of its own thread, counted; other threads' not."""

from __future__ import annotations

import threading

from jobs.spark_work import JOB_GROUP, measured


def test_the_spark_jobs_of_the_block_are_counted_and_the_threads_group_restored(spark):
    sc = spark.sparkContext
    sc.setJobGroup("caller-group", "the caller's own")
    frame = spark.range(100)
    with measured("one_count") as one:  # a count is one Spark job, or two when AQE plans it in stages
        frame.count()
    with measured("three_counts") as three:
        frame.count()
        frame.where("id > 50").count()
        frame.count()
    assert one.spark_jobs in (1, 2)
    assert three.spark_jobs == 3 * one.spark_jobs
    assert three.seconds > 0
    assert sc.getLocalProperty(JOB_GROUP) == "caller-group"
    sc.setLocalProperty(JOB_GROUP, None)


def test_jobs_another_thread_runs_meanwhile_are_not_counted(spark):
    started, release = threading.Event(), threading.Event()

    def other_run():
        started.set()
        release.wait(30)
        spark.range(10).count()
        spark.range(10).count()

    with measured("alone") as alone:
        spark.range(5).count()
    thread = threading.Thread(target=other_run)
    thread.start()
    started.wait(30)
    with measured("one_action") as work:
        release.set()
        spark.range(5).count()
        thread.join(60)
    assert work.spark_jobs == alone.spark_jobs
