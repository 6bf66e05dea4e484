"""The home page every console opens on: the funnel figures of the user's scope."""

from flask_admin import expose
from flask_login import current_user

from admin_views.base import ConsoleHomeView
from admin_views.labels import FUNNEL, figure_labels
from models.workflow import funnel_counts, person_scope


class FunnelHomeView(ConsoleHomeView):
    """A console home showing the funnel of the persons the user may see."""

    figures = figure_labels(FUNNEL)

    def extra_counts(self):
        """Figures beyond the funnel, for consoles that show more."""
        return {}

    @expose("/")
    def index(self):
        counts = funnel_counts(person_scope(current_user))
        counts.update(self.extra_counts())
        return self.render(self.home_template, counts=counts, figures=self.figures, user=current_user)
