// Cell renderers of the cohort grid: the four flags as badges.
var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

var FLAG_LABELS = { no_source: "no token", no_upload: "no upload", low_sleep: "low sleep", low_wear: "low wear" };

dagcomponentfuncs.FlagBadges = function (props) {
  var flags = (props.value || "").split(" ").filter(Boolean);
  if (!flags.length) {
    return React.createElement("span", { className: "ok" }, "no flags");
  }
  return React.createElement(
    "span",
    null,
    flags.map(function (f) {
      return React.createElement("span", { key: f, className: "badge badge-" + f, title: f }, FLAG_LABELS[f] || f);
    })
  );
};
