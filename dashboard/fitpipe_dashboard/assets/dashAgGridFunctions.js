// Value formatters of the cohort grid (dash-ag-grid looks them up by name).
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

// Hours since an instant as "3 h ago" (the words of dashboard/timefmt.py's ago()).
dagfuncs.agoText = function (hours) {
  if (hours === null || hours === undefined) return "never";
  if (hours < 0) return "in the future";
  var minutes = hours * 60;
  if (minutes < 1) return "just now";
  if (minutes < 60) return Math.round(minutes) + " min ago";
  if (hours < 48) return Math.round(hours) + " h ago";
  return Math.round(hours / 24) + " d ago";
};
