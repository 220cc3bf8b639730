import tempfile, time, cProfile, pstats, sys, logging
from bench import click
from bot.slack_app import make_client, create_bolt_app, make_wsgi_app
url = sys.argv[1] if len(sys.argv) > 1 else None
with tempfile.TemporaryDirectory() as d:
    url = url or f"sqlite:///{d}/p.db"
    slack = click.RecordingSlack()
    app, targets = click.worktray_targets(url, slack, 40)
    # time press and drain separately
    from bench.click import claim_button
    t_press=[]; t_drain=[]
    for i, t in enumerate(targets[:15]):
        a = time.perf_counter()
        app.interactions.press(click.BS_USER, "claim", t.value)
        b = time.perf_counter()
        app.deliverer.drain()
        c = time.perf_counter()
        t_press.append((b-a)*1000); t_drain.append((c-b)*1000)
    print("press ms", sorted(t_press)[7], "drain ms", sorted(t_drain)[7])
    pr = cProfile.Profile()
    pr.enable()
    for t in targets[15:30]:
        app.interactions.press(click.BS_USER, "claim", t.value)
        app.deliverer.drain()
    pr.disable()
    pstats.Stats(pr).sort_stats("cumulative").print_stats(45)
    slack.stop()
