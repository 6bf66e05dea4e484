"""The home page every console opens on: the funnel figures of the user's scope."""

from flask_admin import expose
from flask_login import current_user

from admin_views.base import ConsoleHomeView
from models.workflow import funnel_counts, person_scope


class FunnelHomeView(ConsoleHomeView):
    """A console home showing the funnel of the persons the user may see."""

    figures = (
        ("declared", "申报人数"),
        ("submitted", "提交审核"),
        ("allocated", "分配人数"),
        ("appointed", "预约人数"),
        ("checked_in", "接种站登记"),
        ("vaccinated", "完成接种"),
    )

    def extra_counts(self):
        """Figures beyond the funnel, for consoles that show more."""
        return {}

    @expose("/")
    def index(self):
        counts = funnel_counts(person_scope(current_user))
        counts.update(self.extra_counts())
        return self.render(self.home_template, counts=counts, figures=self.figures, user=current_user)
