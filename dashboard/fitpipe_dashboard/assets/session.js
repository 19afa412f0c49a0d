// When the session ends (sign-out elsewhere, expiry, idleness, an admin disabling the account), the
// dashboard answers Dash's requests with 401 and X-Fitpipe-Sign-In: go there instead of leaving a page
// whose charts silently stop updating.
(function () {
    const original = window.fetch;
    window.fetch = function () {
        return original.apply(this, arguments).then(function (response) {
            const target = response.status === 401 && response.headers.get('X-Fitpipe-Sign-In');
            if (target) {
                window.location.assign(target);
                // The page is leaving: Dash must not handle the 401 meanwhile (it would report a failed
                // callback in the console, or try to read the answer twice), so its request never settles.
                return new Promise(function () {});
            }
            return response;
        });
    };
})();
