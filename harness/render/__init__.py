"""The static leaderboard site: tables.py and export.py are pure views of scored rows, plot.py draws
the scatter, load.py reads run directories, site.py writes the pages from templates/."""
